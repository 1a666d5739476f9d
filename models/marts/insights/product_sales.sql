{{ sales_by_region('product_id', attributes=['product_name', 'category', 'price']) }}
