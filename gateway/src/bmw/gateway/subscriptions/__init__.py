"""GraphQL subscriptions over ``graphql-transport-ws``, fed from Kafka.

One Kafka consumer per gateway process (:mod:`.kafka`) decodes the signals and scheduling events into an
in-process feed (:mod:`.feed`) that fans them out to bounded per-subscriber queues; each subscription keeps
only what its caller may see (:mod:`.rules`). The WebSocket transport (:mod:`.transport`) authenticates the
connection at ``connection_init`` and closes it when the caller's token expires.
"""
