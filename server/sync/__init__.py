"""The sync API for coordinators' laptops and field hubs: push, blobs, and the change feed."""
