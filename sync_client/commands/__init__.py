"""The ``fieldsync`` commands, one module per command or group; :mod:`sync_client.cli`
registers them."""
