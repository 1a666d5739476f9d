{{ monthly_sales_rollup(dimension='region', dimension_model='stg_shop__customers') }}
