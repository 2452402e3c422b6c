"""The OpenRosa protocol surface that ODK Collect and KoboCollect speak."""
