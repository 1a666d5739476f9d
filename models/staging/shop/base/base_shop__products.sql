{#- One row per data row of the Products file, every declared column as text, in file order. -#}

{%- do source('shop', 'Products') %}

select * from {{ shop_source('Products') }} as raw_rows
