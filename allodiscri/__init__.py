"""The shared code of the Allo Discri services, in three layers whose imports point down only:

- `kernel`: pure types and rules (events, contracts, reference data, calendar, errors); no
  nameko, eventlet, kombu or pymongo.
- `platform`: adapters over MongoDB and RabbitMQ (event store, keys, subscriptions, nameko
  providers and entrypoints, access control); it names no service.
- `tools`: the command line and the document generators, on top of the services.
"""
