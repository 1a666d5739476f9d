{#- One row per data row of the Transactions file, every declared column as text, in file order. -#}

{%- do source('shop', 'Transactions') %}

select * from {{ shop_source('Transactions') }} as raw_rows
