"""A Django app holding only the model the benchmark measures bulk_create on."""
