"""fieldsync's sync client: store-and-forward sync for coordinators' laptops."""
