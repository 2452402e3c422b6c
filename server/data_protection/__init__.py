"""Use cases of personal data protection above the records they change: withdrawing a
person's consent through the API, and removing personal data past a form's retention period
(``fieldsync-server personal-data purge``). The policy itself is :mod:`server.personal`."""
