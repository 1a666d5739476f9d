{{ monthly_sales_rollup(dimension='category', dimension_model='stg_shop__products') }}
