"""The BigCommerce client and sync against the fake store."""
