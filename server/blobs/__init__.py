"""Content-addressed blob storage for attachments and form sources."""
