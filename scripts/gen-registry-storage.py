#!/usr/bin/env python3
"""Writes a Distribution filesystem storage tree with REPOS repositories x TAGS tags.

Usage: gen-registry-storage.py ROOT REPOS TAGS

The real registry then serves it (catalog, tag lists, manifests), which makes a large registry
in seconds instead of pushing thousands of images. Every tag points at its own manifest among
TAGS distinct single-layer OCI images shared by all repositories.
"""
import hashlib
import json
import os
import sys


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def put_blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    write(os.path.join(root, "docker/registry/v2/blobs/sha256", digest[:2], digest, "data"), data)
    return digest


def main():
    root, repos, tags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    images = []
    for i in range(tags):
        layer = put_blob(root, f"layer {i}\n".encode())
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer]}}).encode()
        config_digest = put_blob(root, config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + layer, "size": len(f"layer {i}\n")}],
        }).encode()
        images.append((put_blob(root, manifest), [layer, config_digest]))
    for r in range(repos):
        name = f"ns{r // 10:03d}/app{r % 10}"
        base = os.path.join(root, "docker/registry/v2/repositories", name)
        for t, (manifest, blobs) in enumerate(images):
            link = ("sha256:" + manifest).encode()
            for blob in blobs:
                write(os.path.join(base, "_layers/sha256", blob, "link"), ("sha256:" + blob).encode())
            write(os.path.join(base, "_manifests/revisions/sha256", manifest, "link"), link)
            write(os.path.join(base, "_manifests/tags", f"v{t}", "current/link"), link)
            write(os.path.join(base, "_manifests/tags", f"v{t}", "index/sha256", manifest, "link"), link)
    print(f"wrote {repos} repositories x {tags} tags under {root}")


if __name__ == "__main__":
    main()
