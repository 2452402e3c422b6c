"""Personal data (survivors' names, phone numbers, home locations, health): who may see it,
what devices and partners get, consent, and the registry of routes that carry it.

The public API, for every route, export, report and the web UI:

- ``access.caller_access(project_id) -> Access`` and ``access.may_read_personal(project_id)``:
  the request's caller may read personal data when their role assignment in the project
  carries the survivor caseworker flag (``project_roles.personal_data``). Viewers are the
  partners' and donors' view (``Access.partner``); app users are devices (``Access.device``).
- ``access.record_read(session, access, target_type, ids)``: audit that personal data of these
  records was shown (who, which record, when; never the data). Call it when you show it.
- ``fields.personal_paths(xform)``: the personal fields of a form version (``pii_`` names and
  ``fieldsync:personal`` binds); ``fields.redact_xml(xml, paths)`` empties them in a submission.
- ``guard.form_guard(session, access, xforms, spec, export=False)`` -> ``FormGuard``:
  ``.xml(xml)`` is the submission as the caller may see it, or None when consent keeps it from
  them; ``.attachment_allowed(xml, name)``; ``.shows_personal(xml)`` (then audit the read).
- ``guard.list_guard(session, access, list_name, properties, saved_personal)`` -> ``ListGuard``:
  ``.shown(uuid, values)``, ``.values(uuid, values)``, ``.property_shown(uuid, name)``.
- ``policy.sharing(session, list_name) -> ListSharing``: the properties devices get, whether
  only assigned devices get the list, the consent properties (``forms/entity_policies.toml``).
- ``consent.withdraw(...)`` records a tombstone; ``consent.tombstones(...)`` reads them.
- ``registry.ROUTES``: every URL rule's decision about personal data; a route missing from it
  fails ``tests/personal/test_route_registry.py``.

Nothing here logs a value; audit entries name records, never their contents.
"""
