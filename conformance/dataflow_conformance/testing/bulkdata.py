"""The records the BULK tests (suite/test_bulk.py) write: numbered users and accounts (a model with two
unique keys), and a BulkCreate's inputs on each access path."""


def users(count, start=0, **extra):
    return [{"name": f"u{i}", "email": f"u{i}@x.org", "age": i % 50, **extra} for i in range(start, start + count)]


def creating(data, batch_size, flow) -> dict:
    """BulkCreate's inputs, with `batch_size` where the path takes one (the express bulk_create batches by
    itself, so on the express paths the records go in one call)."""
    return {"data": data, "batch_size": batch_size} if flow.runs_workflows else {"data": data}


def define_account(db):
    """A model with two unique keys: an upsert matches on one and may clash on the other."""

    @db.model
    class Account:
        email: str
        handle: str
        plan: str = "free"
        __dataflow__ = {
            "indexes": [
                {"name": "uq_accounts_email", "fields": ["email"], "unique": True},
                {"name": "uq_accounts_handle", "fields": ["handle"], "unique": True},
            ]
        }


def accounts(numbers, **extra):
    return [{"email": f"a{i}@x.org", "handle": f"h{i}", **extra} for i in numbers]
