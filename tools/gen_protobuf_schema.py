#!/usr/bin/env python3
"""Generates crates/skiff-apiserver/src/protobuf/schema.txt, the table the API
server uses to decode `application/vnd.kubernetes.protobuf` request bodies.

Run by hand from the workspace root (no arguments needed on the dev machine):

    python3 tools/gen_protobuf_schema.py [--kubectl PATH] [--k8s-pb DIR] [--out FILE]

Inputs, all already on the machine:

* The `k8s-pb` 0.9.0 crate in the cargo registry: prost bindings generated from
  upstream's generated.proto files. It gives every message, its field numbers
  and protobuf types. prost renamed things (UpperCamel message names such as
  `AwsElasticBlockStoreVolumeSource`, snake_case field names), so it cannot give
  JSON names.

* The kubectl 1.33 binary. Go keeps struct tags and field types of every type
  reflect can reach in its read-only data, and kubectl links all of k8s.io/api.
  For each Go struct this gives, per protobuf field number, the JSON name
  (`json:"podIPs,omitempty"`), whether the field is omitempty, and whether the Go
  field is a pointer. The last two decide how a decoded zero value is rendered:
  gogo-protobuf writes every non-pointer scalar even when it is zero, while the
  JSON the same client would have sent omits zero omitempty fields and keeps
  set pointers (`replicas: 0`). Go ABI layout assumed (Go 1.21+): abi.Type is
  48 bytes, Kind at offset 23, TFlag at 20, Str nameOff at 40; StructType adds
  PkgPath (8) and a Fields slice; the uncommon section of a struct type starts
  at offset 80 with its PkgPath nameOff; StructField is {name, typ, offset}.
  The script checks a known struct (apps/v1 DeploymentSpec) and stops if the
  layout does not match.

* k8s-openapi 0.29 (newest v1_NN module): JSON names, from its Deserialize impls,
  for the few fields k8s-pb knows but kubectl 1.33 does not (newer releases);
  such fields keep whatever is on the wire. Names still unknown are derived
  from the snake_case name and reported on stderr.

Embedded Go structs (`json:",inline"`, e.g. Probe's ProbeHandler) are nested
messages on the wire whose fields are inlined in JSON; they get flag i.

Output: a header, `@<apiVersion> <proto package>` lines, then one line per
message reachable from the ROOT_PACKAGES:

    <full name> <tag>:<json>:<type>:<flags> <tag>:...

type is string, bytes, bool, int32, int64, double, a message full name, or
map<string,<value type>>. flags: r = repeated; one of p (pointer: keep what is
on the wire), o (omitempty: drop zero values), a (always emitted), i (an
embedded Go struct, `json:",inline"`: its fields join the parent's; no JSON name).
"""

import argparse
import glob
import os
import re
import struct
import sys

# Group versions skiff serves (plus meta/v1 for DeleteOptions and friends).
ROOT_PACKAGES = [
    "api/core/v1",
    "api/apps/v1",
    "api/batch/v1",
    "api/policy/v1",
    "api/coordination/v1",
    "api/events/v1",
    "api/discovery/v1",
    "api/storage/v1",
    "api/autoscaling/v1",
    "apimachinery/pkg/apis/meta/v1",
]

# Messages the decoder renders specially; they must be present even if unreferenced.
SPECIAL = [
    "apimachinery/pkg/apis/meta/v1.Time",
    "apimachinery/pkg/apis/meta/v1.MicroTime",
    "apimachinery/pkg/apis/meta/v1.Duration",
    "apimachinery/pkg/apis/meta/v1.FieldsV1",
    "apimachinery/pkg/api/resource.Quantity",
    "apimachinery/pkg/util/intstr.IntOrString",
    "apimachinery/pkg/runtime.RawExtension",
]

DEFAULT_KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}


def die(msg):
    sys.exit("gen_protobuf_schema: " + msg)


# --- k8s-pb sources ---------------------------------------------------------

FIELD_ATTR = re.compile(r'#\[prost\((.*)\)\]')


def parse_k8s_pb(root):
    """{ "api/core/v1.Pod": [(tag, snake, kind, repeated, type_text)] }, {apiVersion: pkg}."""
    messages, versions = {}, {}
    for path in sorted(glob.glob(os.path.join(root, "**", "mod.rs"), recursive=True)):
        pkg = os.path.relpath(os.path.dirname(path), root)
        lines = open(path, encoding="utf-8").read().split("\n")
        cur, i = None, 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"pub struct (\w+) \{$", line)
            if m:
                cur = messages.setdefault(f"{pkg}.{m.group(1)}", [])
            elif line == "}":
                cur = None
            m = re.match(r'\s*const API_VERSION: &\'static str = "([^"]+)";', line)
            if m:
                old = versions.setdefault(m.group(1), pkg)
                if old != pkg:
                    die(f"apiVersion {m.group(1)} in both {old} and {pkg}")
            m = FIELD_ATTR.match(line.strip())
            if m and cur is not None:
                attr = m.group(1)
                # The declaration may be wrapped over several lines.
                decl = ""
                i += 1
                while True:
                    decl += " " + lines[i].strip()
                    if decl.count("<") == decl.count(">") and decl.rstrip().endswith(","):
                        break
                    i += 1
                dm = re.match(r"\s*pub (?:r#)?(\w+):\s*(.*),$", decl)
                if not dm:
                    die(f"{path}:{i}: cannot parse field {decl!r}")
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                cur.append((tag, dm.group(1), attr, dm.group(2)))
            i += 1
    return messages, versions


def resolve(pkg, type_text):
    """The message full name ("pkg.Name") a Rust type path refers to."""
    t = type_text.replace("::prost::alloc::boxed::Box<", "").replace("::core::option::Option<", "")
    t = t.replace("::prost::alloc::vec::Vec<", "").replace(" ", "").rstrip(">,")
    parts = t.split("::")
    base = pkg.split("/")
    while parts and parts[0] == "super":
        parts.pop(0)
        base.pop()
    if parts and parts[0] == "crate":
        parts.pop(0)
        base = []
    return "/".join(base + parts[:-1]) + "." + parts[-1]


def proto_fields(pkg, fields):
    """[(tag, snake, type, repeated)] with type a scalar, a message key or ("map", v)."""
    out = []
    for tag, snake, attr, type_text in fields:
        kind = attr.split(",")[0].strip()
        if kind.startswith("btree_map"):
            k, v = re.search(r'btree_map = "(\w+), (\w+)"', attr).groups()
            if k != "string":
                die(f"{pkg}: map key {k}")
            if v == "message":
                inner = type_text.split(",", 1)[1]
                v = resolve(pkg, inner)
            out.append((tag, snake, ("map", v), False))
            continue
        repeated = " repeated" in attr
        if kind == "message":
            out.append((tag, snake, resolve(pkg, type_text), repeated))
        elif kind.startswith("bytes"):
            out.append((tag, snake, "bytes", repeated))
        elif kind in SCALARS:
            out.append((tag, snake, kind, repeated))
        else:
            die(f"{pkg}: unsupported prost kind {kind}")
    return out


# --- kubectl's Go type metadata ---------------------------------------------


class GoBinary:
    def __init__(self, path):
        self.d = d = open(path, "rb").read()
        if d[:4] != b"\x7fELF" or d[4] != 2:
            die(f"{path}: not a 64-bit ELF file")
        shoff, = struct.unpack_from("<Q", d, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
        secs = []
        for i in range(shnum):
            name, typ, _flags, addr, off, size = struct.unpack_from("<IIQQQQ", d, shoff + i * shentsize)
            secs.append((name, typ, addr, off, size))
        stro = secs[shstrndx][3]
        self.secs = {}
        for name, typ, addr, off, size in secs:
            n = d[stro + name:d.index(b"\0", stro + name)].decode()
            self.secs[n] = (typ, addr, off, size)
        if ".rodata" not in self.secs:
            die(f"{path}: no .rodata")
        _, self.ra, self.ro, self.rs = self.secs[".rodata"]

    def off(self, addr):
        if self.ra <= addr < self.ra + self.rs:
            return addr - self.ra + self.ro
        raise ValueError(hex(addr))

    def varint(self, o):
        r = sh = 0
        while True:
            b = self.d[o]
            o += 1
            r |= (b & 0x7F) << sh
            sh += 7
            if b < 0x80:
                return r, o

    def name(self, addr):
        """(flags, name, tag) of an abi.Name."""
        o = self.off(addr)
        fl = self.d[o]
        n, o = self.varint(o + 1)
        name = self.d[o:o + n].decode("latin1")
        tag = ""
        if fl & 2:
            tn, o2 = self.varint(o + n)
            tag = self.d[o2:o2 + tn].decode("latin1")
        return fl, name, tag

    def name_off(self, off):
        # nameOffs are relative to the types base, which is .rodata's start.
        return self.name(self.ra + off)[1]

    def kind(self, t):
        return self.d[self.off(t) + 23] & 0x1F

    def type_name(self, t):
        o = self.off(t)
        off, = struct.unpack_from("<i", self.d, o + 40)
        s = self.name_off(off)
        return s[1:] if self.d[o + 20] & 2 else s  # TFlagExtraStar

    def pkg_path(self, t):
        o = self.off(t)
        if not self.d[o + 20] & 1:  # TFlagUncommon
            return None
        off, = struct.unpack_from("<i", self.d, o + 80)
        return self.name_off(off)

    def structs(self):
        """{(pkgpath, Name): {tag: (json, omitempty, pointer)}} for structs with protobuf tags."""
        d, ra, ro, rs = self.d, self.ra, self.ro, self.rs
        words = struct.unpack_from("<%dQ" % (rs // 8), d, ro)
        lo, hi = ra, ra + rs
        # Field names carrying a protobuf struct tag.
        tagged = set()
        for w in words:
            if lo <= w < hi and d[w - ra + ro] & 2 and not d[w - ra + ro] & 0xF0:
                tagged.add(w)
        pb = set()
        for w in tagged:
            try:
                _, n, tag = self.name(w)
            except (ValueError, IndexError, UnicodeDecodeError):
                continue
            if 'protobuf:"' in tag and re.fullmatch(r"[A-Za-z_]\w*", n):
                pb.add(w)
        out = {}
        # A StructType is an abi.Type (6 words) of kind Struct, PkgPath, then the
        # Fields slice (ptr, len, cap).
        for i in range(7, len(words) - 2):
            w, n = words[i], words[i + 1]
            if not (0 < n < 300 and n == words[i + 2] and lo <= w < hi and (w - ra) % 8 == 0):
                continue
            t = ra + (i - 7) * 8
            if d[ro + (i - 7) * 8 + 23] & 0x1F != 25:
                continue
            j = (w - ra) // 8
            if j + 3 * n > len(words) or not any(words[j + 3 * k] in pb for k in range(n)):
                continue
            try:
                key = (self.pkg_path(t), self.type_name(t))
                fields = {}
                for k in range(n):
                    if words[j + 3 * k] not in pb:
                        continue
                    _, fname, tag = self.name(words[j + 3 * k])
                    num = int(re.search(r'protobuf:"[a-z0-9]+,(\d+),', tag).group(1))
                    jm = re.search(r'json:"([^"]*)"', tag)
                    jparts = (jm.group(1) if jm else "").split(",")
                    if "inline" in jparts[1:]:
                        # An embedded struct: a nested message on the wire, inlined in JSON.
                        fields[num] = ("", "inline", False)
                        continue
                    jname = jparts[0] or fname
                    fields[num] = (jname, "omitempty" in jparts[1:], self.kind(words[j + 3 * k + 1]) == 22)
            except (ValueError, IndexError, UnicodeDecodeError, AttributeError):
                continue
            out[key] = fields
        return out


def parse_k8s_openapi(root):
    """{ (pkg, struct lowercase): {normalized field: JSON name} } from k8s-openapi's
    Deserialize impls (`"podIPs" => Field::Key_pod_ips`)."""
    out = {}
    for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
        text = open(path, encoding="utf-8").read()
        m = re.search(r"^pub struct (\w+) \{", text, re.M)
        if not m:
            continue
        pkg = os.path.relpath(os.path.dirname(path), root)
        names = {norm(k): j for j, k in re.findall(r'"([^"]+)" => Field::Key_(\w+),', text)}
        out[(pkg, m.group(1).lower())] = names
    return out


def norm(name):
    return name.replace("r#", "").replace("_", "").lower()


def go_package(pkg):
    """The Go import path of a k8s-pb module path."""
    if pkg.startswith("api/"):
        return "k8s.io/" + pkg
    if pkg.startswith("apimachinery/"):
        return "k8s.io/" + pkg
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default=DEFAULT_KUBECTL)
    ap.add_argument("--k8s-pb", default=None)
    ap.add_argument("--k8s-openapi", default=None, help="a k8s-openapi src/v1_NN dir (fallback JSON names)")
    ap.add_argument("--out", default="crates/skiff-apiserver/src/protobuf/schema.txt")
    args = ap.parse_args()
    root = args.k8s_pb
    if root is None:
        found = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-pb-0.9.0/src")))
        if not found:
            die("k8s-pb 0.9.0 not in the cargo registry (run `cargo fetch` with it as a dependency)")
        root = found[0]

    oa_root = args.k8s_openapi
    if oa_root is None:
        found = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_*"))
        # The newest Kubernetes version knows the most fields.
        found.sort(key=lambda p: int(p.rsplit("_", 1)[1]))
        oa_root = found[-1] if found else None
    openapi = parse_k8s_openapi(oa_root) if oa_root else {}

    raw, versions = parse_k8s_pb(root)
    messages = {k: proto_fields(k.split(".")[0], v) for k, v in raw.items()}

    go = GoBinary(args.kubectl).structs()
    go_by_key = {}
    for (pp, tn), fields in go.items():
        if pp and "." in tn:
            go_by_key[(pp, tn.split(".", 1)[1].lower())] = (tn.split(".", 1)[1], fields)
    probe = go_by_key.get(("k8s.io/api/apps/v1", "deploymentspec"))
    if not probe or probe[1].get(1) != ("replicas", True, True) or probe[1].get(5) != ("minReadySeconds", True, False):
        die("kubectl's type metadata does not look as expected (Go ABI changed?)")

    # Closure of messages reachable from the root packages.
    todo = [k for k in messages if k.split(".")[0] in ROOT_PACKAGES] + SPECIAL
    keep = set()
    while todo:
        k = todo.pop()
        if k in keep:
            continue
        if k not in messages:
            die(f"unknown message {k}")
        keep.add(k)
        for _, _, ty, _ in messages[k]:
            ref = ty[1] if isinstance(ty, tuple) else ty
            if ref not in SCALARS:
                todo.append(ref)

    # Proto names: Go's spelling (== upstream .proto) where kubectl has the type.
    names, go_fields = {}, {}
    for k in keep:
        pkg, rust = k.split(".")
        info = go_by_key.get((go_package(pkg), rust.lower()))
        name = info[0] if info else rust
        names[k] = "k8s.io." + pkg.replace("/", ".") + "." + name
        go_fields[k] = info[1] if info else None

    def type_str(ty):
        if isinstance(ty, tuple):
            return f"map<string,{type_str(ty[1])}>"
        return ty if ty in SCALARS else names[ty]

    special_names = {names[k] for k in SPECIAL}
    out = [
        "# Generated by tools/gen_protobuf_schema.py from k8s-pb 0.9.0 and kubectl 1.33 type metadata.",
        "# Do not edit. Format: see the script.",
    ]
    for v, pkg in sorted(versions.items()):
        if pkg in ROOT_PACKAGES:
            out.append(f"@{v} k8s.io.{pkg.replace('/', '.')}")
    out.append("@meta.k8s.io/v1 k8s.io.apimachinery.pkg.apis.meta.v1")
    missing = []
    for k in sorted(keep, key=lambda k: names[k]):
        gf = go_fields[k]
        cols = [names[k]]
        for tag, snake, ty, repeated in messages[k]:
            g = gf.get(tag) if gf else None
            if g is None:
                # A field newer than kubectl: JSON name from k8s-openapi (else lowerCamel
                # of the snake name); presence unknown, so keep what is on the wire.
                pkg, rust = k.split(".")
                jname = openapi.get((pkg, rust.lower()), {}).get(norm(snake))
                if jname is None:
                    head, *rest = snake.split("_")
                    jname = head + "".join(p[:1].upper() + p[1:] for p in rest)
                    if names[k] not in special_names:
                        missing.append(f"{names[k]}.{snake}")
                g = (jname, False, True)
            jname, omit, ptr = g
            if omit == "inline":
                if repeated or ty in SCALARS or isinstance(ty, tuple):
                    die(f"inline field {snake} of {names[k]} is not a message")
                cols.append(f"{tag}::{type_str(ty)}:i")
                continue
            flags = ("r" if repeated else "") + ("p" if ptr else "o" if omit else "a")
            if not re.fullmatch(r"[\w$-]+", jname):
                die(f"odd JSON name {jname!r} in {names[k]}")
            cols.append(f"{tag}:{jname}:{type_str(ty)}:{flags}")
        out.append(" ".join(cols))
    if missing:
        print("warning: JSON name guessed for:", ", ".join(missing), file=sys.stderr)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.out}: {len(keep)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
