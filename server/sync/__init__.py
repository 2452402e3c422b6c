"""The sync API for coordinators' laptops and field hubs: push, blobs, and pulling the change
feed (which lives in :mod:`server.feed`)."""
