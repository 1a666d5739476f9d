{{ sales_by_region('category') }}
