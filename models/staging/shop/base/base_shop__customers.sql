{#- One row per data row of the Customers file, every declared column as text, in file order. -#}

{%- do source('shop', 'Customers') %}

select * from {{ shop_source('Customers') }} as raw_rows
