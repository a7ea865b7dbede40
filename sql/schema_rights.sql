-- Does the schema exist, and may the current role use it and create in it?
SELECT n.oid IS NOT NULL,
       coalesce(has_schema_privilege(n.oid, 'USAGE'), false),
       coalesce(has_schema_privilege(n.oid, 'CREATE'), false)
FROM (SELECT to_regnamespace(%(schema)s)::oid AS oid) AS n
