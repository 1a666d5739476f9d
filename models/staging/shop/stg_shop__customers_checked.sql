{{ config(materialized='table') }}

with source as (
    select * from {{ shop_source('Customers') }}
),

renamed as (
    select
        source_file,
        source_row_number,
        {{ clean_text('CustomerID') }} as customer_id,
        {{ clean_text('CustomerName') }} as customer_name,
        {{ clean_text('Region') }} as region,
        {{ clean_text('SignupDate') }} as signup_date_text
    from source
),

typed as (
    select
        renamed.*,
        {{ dbt.safe_cast('signup_date_text', dbt.type_timestamp()) }} as signup_timestamp,
        min(renamed.source_row_number)
            over (partition by renamed.customer_id)
            as first_row_of_customer_id
    from renamed
),

checked as (
    select
        source_file,
        source_row_number,
        customer_id,
        customer_name,
        region,
        signup_date_text,
        cast(signup_timestamp as date) as signup_date,
        nullif(concat_ws(
            '; ',
            case when customer_id is null then 'missing CustomerID' end,
            case
                when customer_id is not null and source_row_number > first_row_of_customer_id
                    then
                        'duplicate CustomerID (first at row '
                        || {{ dbt.cast('first_row_of_customer_id', dbt.type_string()) }} || ')'
            end,
            case when region is null then 'missing Region' end,
            case when signup_date_text is null then 'missing SignupDate' end,
            case
                when signup_date_text is not null and signup_timestamp is null
                    then 'unparseable SignupDate'
            end
        ), '') as quarantine_reason
    from typed
)

select * from checked
