"""The image verbs of the CLI, docker's names and habits::

    boxkit build -t NAME[:TAG] [-f FILE] [--no-cache] DIR
    boxkit images [--json]
    boxkit history IMAGE
    boxkit pull [--username U --password-stdin] [--insecure] REF [--tag NAME:TAG]
    boxkit save [--format oci|docker] -o DEST IMAGE...
    boxkit load -i PATH [--tag NAME:TAG]
    boxkit rmi IMAGE...
    boxkit commit CONTAINER NAME[:TAG]
    boxkit system df

Handlers return an exit code and raise :class:`boxkit.errors.BoxkitError` for failures, which the CLI
prints as one sentence with exit status 125.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import BoxkitError, NotFoundError
from ..i18n import N_


def _mb(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f}GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f}MB"
    return f"{n / 1024:.1f}kB"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("build", help="build an image from a build file (Dockerfile subset)")
    p.add_argument("-t", "--tag", required=True, metavar="NAME[:TAG]")
    p.add_argument("-f", "--file", metavar="FILE", help="default: DIR/Boxfile, else DIR/Dockerfile")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("context", metavar="DIR")
    p.set_defaults(func=cmd_build)

    p = subparsers.add_parser("images", help="list local images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_images)

    p = subparsers.add_parser("history", help="show the layers of an image and the steps that made them")
    p.add_argument("image")
    p.set_defaults(func=cmd_history)

    p = subparsers.add_parser("pull", help="pull an image from a registry")
    p.add_argument("ref", metavar="[HOST[:PORT]/]NAME[:TAG]")
    p.add_argument("--tag", metavar="NAME:TAG", help="local name (default: the reference)")
    p.add_argument("--username")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--insecure", action="store_true", help="plain http (default only for 127.0.0.1/localhost)")
    p.set_defaults(func=cmd_pull)

    p = subparsers.add_parser("save", help="write images as an OCI layout directory or a docker save tar")
    p.add_argument("-o", "--output", required=True, metavar="DEST")
    p.add_argument("--format", choices=("oci", "docker"), default=None,
                   help="default: docker for a .tar file, oci otherwise")
    p.add_argument("images", nargs="+")
    p.set_defaults(func=cmd_save)

    p = subparsers.add_parser("load", help="load images from an OCI layout or a docker save tar")
    p.add_argument("-i", "--input", required=True, metavar="PATH")
    p.add_argument("--tag", metavar="NAME:TAG")
    p.set_defaults(func=cmd_load)

    p = subparsers.add_parser("rmi", help="remove images (layers other images use stay)")
    p.add_argument("images", nargs="+")
    p.set_defaults(func=cmd_rmi)

    p = subparsers.add_parser("commit", help="make an image of what a running container changed")
    p.add_argument("container")
    p.add_argument("ref", metavar="NAME[:TAG]")
    p.add_argument("-m", "--message", default="")
    p.set_defaults(func=cmd_commit)

    p = subparsers.add_parser("system", help="system-wide information")
    sub = p.add_subparsers(dest="system_cmd", required=True)
    df = sub.add_parser("df", help="disk used by images: shared vs unique layer bytes")
    df.add_argument("--json", action="store_true")
    df.set_defaults(func=cmd_df)


def cmd_build(a: argparse.Namespace) -> int:
    # lazy: boxkit.build loads the runtime and images (~55 ms); only build needs it
    from ..build import build_file

    if not os.path.isdir(a.context):
        raise NotFoundError(N_("build context"), a.context, hint=N_("give the directory COPY reads from"))
    f = a.file
    if f is None:
        f = os.path.join(a.context, "Boxfile")
        if not os.path.exists(f):
            f = os.path.join(a.context, "Dockerfile")
    build_file(f, a.tag, a.context, no_cache=a.no_cache, log=lambda s: print(s, flush=True))
    return 0


def cmd_images(a: argparse.Namespace) -> int:
    # lazy: the image store (hashlib, json) only for the image verbs, not at boxkit.cli's import
    from ..images.store import Store

    rows = Store().images()
    if a.json:
        print(json.dumps(rows))
        return 0
    print(f"{'REPOSITORY':<36} {'TAG':<12} {'IMAGE ID':<14} {'LAYERS':>6} {'SIZE':>9}  CREATED")
    for r in rows:
        name, _, tag = r["ref"].rpartition(":")
        print(f"{name:<36} {tag:<12} {str(r['digest'])[7:19]:<14} {r['layers']:>6} {_mb(r['size']):>9}  {r['created']}")
    return 0


def cmd_history(a: argparse.Namespace) -> int:
    # lazy: boxkit.images only for the image verbs, not at boxkit.cli's import
    from ..images import resolve
    from ..images.store import Store

    resolve(a.image)  # base images appear on first use
    print(f"{'LAYER':<14} {'SIZE':>9}  CREATED BY")
    for h in Store().history(a.image):
        layer = h["diff_id"][7:19] if h["diff_id"] else "<none>"
        print(f"{layer:<14} {_mb(h['size']) if h['diff_id'] else '0B':>9}  {h['created_by'][:90]}")
    return 0


def cmd_pull(a: argparse.Namespace) -> int:
    # lazy: the registry client (urllib, ssl) only for pull
    from ..images.registry import progress_printer, pull

    password = sys.stdin.readline().rstrip("\n") if a.password_stdin else None
    ref = pull(a.ref, tag=a.tag, username=a.username, password=password, insecure=a.insecure or None,
               progress=progress_printer())
    print(ref)
    return 0


def cmd_save(a: argparse.Namespace) -> int:
    # lazy: transfer loads tarfile; only save needs it
    from ..images.transfer import save_docker, save_oci

    fmt = a.format or ("docker" if a.output.endswith(".tar") else "oci")
    (save_docker if fmt == "docker" else save_oci)(a.images, a.output)
    return 0


def cmd_load(a: argparse.Namespace) -> int:
    # lazy: transfer loads tarfile; only load needs it
    from ..images.transfer import load

    for ref in load(a.input, tag=a.tag):
        print(f"Loaded image: {ref}")
    return 0


def cmd_rmi(a: argparse.Namespace) -> int:
    from ..images.store import Store  # lazy: the image store only for the image verbs
    from ..runtime import state  # lazy: no runtime module at boxkit.cli's import (--help)

    store = Store()
    for ref in a.images:
        users = [s for s in (state.read(c) for c in state.list_ids()) if s and s.get("image") in (ref, ref + ":latest")
                 and state.alive(s["pid"], s.get("starttime"))]
        if users:
            raise BoxkitError(N_("cannot remove image"), ref, detail=N_("container {id} is using it"),
                              hint=N_("stop the container first"), params={"id": users[0].get("id")})
        removed = store.remove(ref)
        print(f"Untagged: {ref}")
        for d in removed:
            print(f"Deleted: {d}")
    return 0


def cmd_commit(a: argparse.Namespace) -> int:
    # lazy: boxkit.build loads the runtime and images (~55 ms); only commit needs it
    from ..build.commit import commit_container

    print(commit_container(a.container, a.ref, comment=a.message))
    return 0


def cmd_df(a: argparse.Namespace) -> int:
    # lazy: the image store only for the image verbs
    from ..images.store import Store

    df = Store().df()
    if a.json:
        print(json.dumps(df))
        return 0
    print(f"{'LAYER':<14} {'SIZE':>9} {'IMAGES':>6}  USED BY")
    for layer in sorted(df["layers"], key=lambda x: -x["size"]):
        print(f"{layer['diff_id'][7:19]:<14} {_mb(layer['size']):>9} {len(layer['images']):>6}  "
              f"{', '.join(layer['images'])[:80]}")
    print(f"shared: {_mb(df['shared_bytes'])}  unique: {_mb(df['unique_bytes'])}  total on disk: "
          f"{_mb(df['total_bytes'])}  without sharing: {_mb(df['without_sharing_bytes'])}")
    return 0
