"""The user-management operations on django.contrib.auth, shared by the in-process job and the views."""

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from .. import workload

APP_LABEL = "auth"  # the permissions hang off auth.User's content type: has_perm("auth.perm_07")
FIELDS = ("id", "username", "email", "is_active")


def create_user(username: str, email: str, password: str) -> User:
    return User.objects.create_user(username, email, password)


def bulk_import(rows: list[dict]) -> int:
    """`rows` carry already hashed passwords, as an import from another system does."""
    created = User.objects.bulk_create([User(**row) for row in rows])
    return len(created)


def has_perm(user_id: int, codename: str) -> bool:
    return User.objects.get(pk=user_id).has_perm(f"{APP_LABEL}.{codename}")


def list_users(page: int) -> list[dict]:
    start = page * workload.PAGE_SIZE
    return list(User.objects.order_by("id").values(*FIELDS)[start : start + workload.PAGE_SIZE])


@transaction.atomic
def seed(count: int) -> list[int]:
    """Groups, permissions, grants and `count` users with their memberships; returns the user ids."""
    content_type = ContentType.objects.get_for_model(User)
    Permission.objects.bulk_create(
        [Permission(codename=p, name=p, content_type=content_type) for p in workload.PERMISSIONS]
    )
    Group.objects.bulk_create([Group(name=g) for g in workload.GROUPS])
    groups = dict(Group.objects.values_list("name", "id"))
    permissions = dict(Permission.objects.filter(content_type=content_type).values_list("codename", "id"))
    Group.permissions.through.objects.bulk_create(
        [
            Group.permissions.through(group_id=groups[g], permission_id=permissions[p])
            for i, g in enumerate(workload.GROUPS)
            for p in workload.granted(i)
        ]
    )
    password = make_password(workload.PASSWORD)  # one hash for all seeded users: seeding is not measured
    User.objects.bulk_create(
        [User(**workload.seed_user(i), password=password) for i in range(count)], batch_size=workload.BULK_SIZE
    )
    ids = dict(User.objects.filter(username__startswith="seed-").values_list("username", "id"))
    user_ids = [ids[workload.seed_user(i)["username"]] for i in range(count)]
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(user_id=user_ids[i], group_id=groups[workload.GROUPS[g]])
            for i in range(count)
            for g in workload.groups_of(i)
        ],
        batch_size=workload.BULK_SIZE,
    )
    return user_ids
