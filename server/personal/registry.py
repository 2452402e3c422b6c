"""Every URL rule of the server and what it decided about personal data.

A new route is added here with its decision, or ``tests/personal/test_route_registry.py``
fails: nobody can add a way out for personal data without deciding who sees it.
"""

from __future__ import annotations

import enum


class Carries(enum.Enum):
    NOTHING = "carries no personal data"
    REDACTED = "personal fields left out unless the caller is a survivor caseworker (audited)"
    DEVICE = "only the properties the list declares for devices, consent and assignments kept"
    INBOUND = "receives personal data, answers without it"


N, R, D, IN = (Carries.NOTHING, Carries.REDACTED, Carries.DEVICE, Carries.INBOUND)

ROUTES: dict[str, Carries] = {
    "healthz": N,
    "static": N,
    # accounts, projects
    "projects_api.list_projects": N,
    "projects_api.create_project": N,
    "projects_api.get_project": N,
    "accounts_api.list_app_users": N,
    "accounts_api.create_app_user": N,
    "accounts_api.revoke_app_user": N,
    "accounts_api.grant_role": N,
    "accounts_api.remove_role": N,
    "accounts_api.open_session": N,
    "accounts_api.close_session": N,
    "accounts_api.create_user": N,
    "accounts_api.get_user": N,
    "accounts_api.update_user": N,
    "accounts_api.set_user_password": N,
    "accounts_api.revoke_user_sessions": N,
    "accounts_api.who_am_i": N,
    # forms: definitions, not answers
    "forms_api.list_forms": N,
    "forms_api.publish_form": N,
    "forms_api.get_form": N,
    "forms_api.set_form_state": N,
    "forms_api.upload_media": N,
    "forms_api.version_xml": N,
    # entities
    "entities_api.list_lists": N,
    "entities_api.set_list": N,
    "entities_api.list_entities": R,
    "entities_api.get_entity": R,
    "entities_api.edit_entity": R,
    "entities_api.reopen_entity": R,
    "entities_api.entity_versions": R,
    "entities_api.list_conflicts": R,
    "entities_api.get_conflict": R,
    "entities_api.resolve_conflict": R,
    "entities_api.entity_backlog": R,
    "personal_api.withdraw_consent": N,
    # submissions and exports
    "submissions_api.list_submissions": R,
    "submissions_api.get_submission": R,
    "submissions_api.download_attachment": R,
    "submission_review.review": N,
    "exports_api.submissions_csv": R,
    "exports_api.submissions_csv_zip": R,
    "exports_api.submissions_geojson": R,
    "exports_api.submissions_xlsx": R,
    "exports_api.entity_list_csv": R,
    "exports_api.entity_list_geojson": R,
    # the laptop's sync API
    "sync_api.blob_offset": N,
    "sync_api.upload_chunk": IN,
    "sync_api.missing_blobs": N,
    "sync_api.pull_changes": R,
    "sync_api.push": IN,
    # ODK Collect (OpenRosa)
    "openrosa.form_list": D,
    "openrosa.form_list_key": D,
    "openrosa.form_xml": D,
    "openrosa.form_xml_key": D,
    "openrosa.manifest": D,
    "openrosa.manifest_key": D,
    "openrosa.media_file": D,
    "openrosa.media_file_key": D,
    "openrosa.submission_probe": N,
    "openrosa.submission_probe_key": N,
    "openrosa.submission": IN,
    "openrosa.submission_key": IN,
    # ODK Central's API
    "central.list_projects": N,
    "central.get_project": N,
    "central.list_app_users": N,
    "central.create_app_user": N,
    "central.revoke_app_user": N,
    "central.assign_form": N,
    "central.list_forms": N,
    "central.create_form": N,
    "central.get_form": N,
    "central.create_draft": N,
    "central.upload_draft_attachment": N,
    "central.publish_draft": N,
    "central.list_form_versions": N,
    "central.list_submissions": R,
    "central.create_submission": IN,
    "central.get_submission": R,
    "central.review": N,
    "central.get_submission_xml": R,
    "central.list_submission_attachments": R,
    "central.get_submission_attachment": R,
    "central.submissions_csv": R,
    "central.submissions_csv_zip": R,
    "central.open_session": N,
    "central.close_session": N,
    "central.who_am_i": N,
    "central_odata.service_document": N,
    "central_odata.metadata": N,
    "central_odata.table_rows": R,
    "central_entities.list_datasets": N,
    "central_entities.get_dataset": N,
    "central_entities.list_entities": R,
    "central_entities.get_entity": R,
    "central_entities.entity_versions": R,
    "central_entities.odata_entities": R,
}
