"""Offline bundles: signed, encrypted files carried by hand, and the laptop keys that sign them
(docs/offline-bundles.md, docs/adr/0020-bundle-format.md)."""
