"""The source side, with Django itself: the comparisons' Django project (`harness.django_side`) on the
source database. Seeds a source that exercises every case the migration must carry, and gives Django's own
answers (`has_perm`, `check_password`) that `verify` and the tests compare the DataFlow side with.

Runs in a process of its own (`python -m migration seed-source | django-answers | django-check`): Django's
settings are per process and read the database URL from DFC_LOAD_DATABASE_URL.
"""

import os


def setup(source_url: str) -> None:
    os.environ["DFC_LOAD_DATABASE_URL"] = source_url
    from harness.django_side import SETTINGS_MODULE

    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django

    django.setup()


# Users with known passwords, one per hasher format Django ships without extra packages (argon2 needs
# argon2-cffi), plus an unusable password. Each runs at a low cost (seeding speed): the format is the same.
KNOWN = {
    "hash-pbkdf2-sha256": ("pbkdf2_sha256", "Tr0ub4dor&3"),
    "hash-pbkdf2-sha1": ("pbkdf2_sha1", "correct horse"),
    "hash-bcrypt-sha256": ("bcrypt_sha256", "p\u00e4ssw\u00f6rd \U0001f511"),
    "hash-scrypt": ("scrypt", "' OR '1'='1"),
    "hash-unusable": (None, None),
}


def seed(users: int) -> dict:
    """Migrate the Django project, seed it as the load tests do, then add what they lack: a superuser, an
    inactive user with groups, direct user permissions, hashes of every format, a user who never logged in.
    Returns {username: raw password} for the users with known passwords."""
    import bcrypt
    from django.contrib.auth import hashers
    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command
    from django.utils import timezone

    from harness.django_side import auth_ops

    call_command("migrate", verbosity=0, interactive=False)
    ids = auth_ops.seed(users)
    User.objects.filter(id=ids[0]).update(is_superuser=True, is_staff=True)
    User.objects.filter(id=ids[1]).update(is_active=False)  # keeps its groups: has_perm must still say no
    User.objects.filter(id__in=ids[2:4]).update(last_login=timezone.now(), first_name="Zo\u00eb", last_name="O'Neil")
    extra = list(Permission.objects.order_by("id")[:3])
    for user_id in ids[2:5]:
        User.objects.get(id=user_id).user_permissions.add(*extra)
    encoders = {
        "pbkdf2_sha256": lambda raw: hashers.PBKDF2PasswordHasher().encode(raw, "s4lt", 1000),
        "pbkdf2_sha1": lambda raw: hashers.PBKDF2SHA1PasswordHasher().encode(raw, "s4lt", 1000),
        "bcrypt_sha256": lambda raw: hashers.BCryptSHA256PasswordHasher().encode(raw, bcrypt.gensalt(4)),
        "scrypt": lambda raw: hashers.ScryptPasswordHasher().encode(raw, "s4lt", n=2**10),
    }
    known = {}
    first_group = Group.objects.order_by("id").first()
    for username, (hasher, raw) in KNOWN.items():
        user = User(username=username, email=f"{username}@example.com")
        if hasher is None:
            user.set_unusable_password()
        else:
            user.password = encoders[hasher](raw)
            known[username] = raw
        user.save()
        user.groups.add(first_group)
    return known


def answers() -> dict:
    """Django's has_perm for every (user, permission) pair: {"<user id> <app_label.codename>": bool}."""
    from django.contrib.auth.models import Permission, User

    perms = [f"{app}.{code}" for app, code in Permission.objects.values_list("content_type__app_label", "codename")]
    return {f"{user.id} {perm}": user.has_perm(perm) for user in User.objects.order_by("id") for perm in perms}


def check(pairs: list) -> list:
    """Django's check_password for each [raw password, encoded hash] pair."""
    from django.contrib.auth.hashers import check_password

    return [check_password(raw, encoded) for raw, encoded in pairs]
