{{ monthly_sales_rollup() }}
