{{ config(
    materialized='table',
    post_hook="{{ reject_unusable_input('Customers', [
        ('SignupDate', 'signup_date_text', 'signup_timestamp', 'YYYY-MM-DD'),
    ]) }}",
) }}

{#- The Customers file read once: every row, typed, with every rule it broke. -#}

with source as (
    select * from {{ ref('base_shop__customers') }}
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

duplicates as (
    {{ duplicate_keys('renamed', 'customer_id', ['customer_name', 'region', 'signup_date_text']) }}
),

typed as (
    select
        renamed.*,
        {{ dbt.safe_cast('renamed.signup_date_text', dbt.type_timestamp()) }} as signup_timestamp,
        {{ duplicate_problem('renamed', 'customer_id', 'CustomerID') }} as duplicate_reason
    from renamed
    left join duplicates
        on renamed.customer_id = duplicates.customer_id
),

checked as (
    select
        source_file,
        source_row_number,
        customer_id,
        customer_name,
        region,
        signup_date_text,
        signup_timestamp,
        cast(signup_timestamp as date) as signup_date,
        nullif(concat_ws(
            '; ',
            case when customer_id is null then 'missing CustomerID' end,
            duplicate_reason,
            case when region is null then 'missing Region' end,
            {{ date_problem(
                'signup_date_text', 'signup_timestamp', 'SignupDate',
                shop_column_meta('Customers', 'SignupDate', 'earliest'),
            ) }}
        ), '') as quarantine_reason
    from typed
)

select * from checked
