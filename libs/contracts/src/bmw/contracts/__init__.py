"""Wire contracts shared by every BMW service: the CloudEvents envelope, versioned event
schemas and the domain taxonomies. Nothing here does I/O."""
