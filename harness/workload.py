"""The user-management data both sides share: permissions, groups, grants, seeded users, and the
answer every permission check must give (so a wrong answer counts as a failure, not a fast result)."""

import random

PERMISSIONS = [f"perm_{i:02d}" for i in range(20)]
GROUPS = [f"group_{i}" for i in range(10)]
PAGE_SIZE = 25
BULK_SIZE = 1000
PASSWORD = "correct horse battery staple"


def granted(group_index: int) -> list[str]:
    """Each group grants three permissions."""
    return [PERMISSIONS[(2 * group_index + k) % len(PERMISSIONS)] for k in range(3)]


def groups_of(user_index: int) -> tuple[int, int]:
    """Every seeded user belongs to two different groups (2i+1 is odd, so never 0 mod 10)."""
    return user_index % len(GROUPS), (3 * user_index + 1) % len(GROUPS)


def expected_permission(user_index: int, codename: str) -> bool:
    return any(codename in granted(g) for g in groups_of(user_index))


def seed_user(index: int) -> dict:
    return {"username": f"seed-{index:06d}", "email": f"seed-{index:06d}@example.com"}


class UserNames:
    """Unique usernames for users created during a run (tag = side, process and a random part)."""

    def __init__(self, tag: str):
        self.tag, self.count = tag, 0

    def next(self) -> dict:
        self.count += 1
        name = f"{self.tag}-{self.count:07d}"
        return {"username": name, "email": f"{name}@example.com"}

    def batch(self, size: int) -> list[dict]:
        return [self.next() for _ in range(size)]


def permission_checks(seed_users: int, rng: random.Random):
    """Endless (user index, codename) pairs, the same sequence for both sides given the same rng seed."""
    while True:
        yield rng.randrange(seed_users), rng.choice(PERMISSIONS)
