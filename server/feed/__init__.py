"""The change feed: every change a client must learn of (form versions and states, entity
versions, conflicts, review decisions), appended in the writer's transaction and read by
``/sync/pull`` in commit order. It sits below every domain package, which record their own
changes through :func:`server.feed.service.record_change`."""
