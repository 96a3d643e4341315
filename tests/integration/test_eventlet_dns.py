"""pymongo under eventlet.monkey_patch() resolves the MongoDB host by name.

nameko runs services monkey-patched; eventlet before 0.35.2 timed out on DNS with dnspython 2.6
and pymongo 4.16 dropped eventlet from its test matrix, so this pins the set we ship.
"""

import eventlet.patcher

from allodiscri.platform.mongo import connect


def test_pymongo_resolves_a_host_name_under_eventlet(mongo_uri, db_name):
    assert eventlet.patcher.is_monkey_patched("socket"), "run the suite with `nameko test`"
    by_name = mongo_uri.replace("127.0.0.1", "localhost")
    assert "localhost" in by_name
    client = connect(by_name, serverSelectionTimeoutMS=5000)
    try:
        collection = client.get_database(db_name)["dns_probe"]
        collection.insert_one({"_id": 1, "resolved": True})
        assert collection.find_one({"_id": 1}) == {"_id": 1, "resolved": True}
    finally:
        client.drop_database(db_name)
        client.close()
