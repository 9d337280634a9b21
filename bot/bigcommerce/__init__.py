"""BigCommerce: the REST client, the store sync and the order webhook."""
