"""A small Hugging Face Hub for tests: real HTTP on 127.0.0.1, the endpoints huggingface_hub 2.4 calls.

    server = HubServer(users={"hf_alice": "alice"}).start()   # then HF_ENDPOINT=server.url
    ...
    server.stop()

It keeps model repos in memory: each branch points at a commit, a commit at a dict of files.
Pushing takes the paths create_repo, validate-yaml, preupload and commit, and for files
the preupload answer marks "lfs" (by suffix, `lfs_suffixes`) the Git LFS batch API with a
PUT and a verify. The Xet upload protocol that the real Hub uses for LFS files is not
implemented: clients must run with HF_HUB_DISABLE_XET=1. Downloading takes HEAD + GET on
/{repo}/resolve/{revision}/{file} with the headers the client reads (X-Repo-Commit, ETag
or X-Linked-Etag, Content-Length) and the Hub's X-Error-Code on 404s (a HEAD reply never has a
body), for model and Space repos alike; snapshot_download lists a repo through
/api/{models,spaces}/<repo>/tree/<revision> (all of it in one page, recursively).

Users are tokens: `users` maps a token to a user name (write access to the user's own
namespace); `read_tokens` are valid but cannot write. `fail_commits` holds repo ids whose
commit request gets its connection dropped without an answer, as a network failure would;
`deny_writes` repo ids the server refuses to write (403) even to their owner.
`requests` lists (method, path) of every request, for assertions.

Space repos (repo_type="space") are kept under the key "spaces/<user>/<name>" (e.g.
`server.files("spaces/alice/demo")`), and follow the Hub's rule for them: a binary file
(one with a NUL byte) must be stored with LFS or the commit is refused. As a simplification
of the real Hub, which also looks at file sizes and contents, the preupload answer marks a
Space file "lfs" exactly when a pattern of the repo's .gitattributes (at the head of the
branch, or uploaded in the same request) with filter=lfs matches its name.
"""

import base64
import fnmatch
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubServer:
    def __init__(self, users=None, read_tokens=(), lfs_suffixes=(".safetensors", ".png"), fail_commits=(),
                 deny_writes=()):
        self.users = dict(users or {})
        self.read_tokens = set(read_tokens)
        self.lfs_suffixes = tuple(lfs_suffixes)
        self.fail_commits = set(fail_commits)
        self.deny_writes = set(deny_writes)
        self.repos = {}  # repo_id -> {"private": bool, "branches": {name: commit sha}}
        self.commits = {}  # sha -> {"files": {path: bytes}, "lfs": set of paths, "message": str, "parent": sha}
        self.lfs_objects = {}  # (repo_id, sha256) -> bytes: LFS storage is per repo
        self.requests = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "HubServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # state, for tests to read and seed

    def create_repo(self, repo_id: str, private: bool = False) -> None:
        sha = self._new_commit({}, set(), "initial commit", parent=None)
        self.repos[repo_id] = {"private": private, "branches": {"main": sha}}

    def files(self, repo_id: str, revision: str = "main") -> dict:
        """{path: bytes} at the head of `revision`."""
        return dict(self.commits[self.repos[repo_id]["branches"][revision]]["files"])

    def commit_messages(self, repo_id: str, revision: str = "main") -> list:
        out, sha = [], self.repos[repo_id]["branches"][revision]
        while sha:
            out.append(self.commits[sha]["message"])
            sha = self.commits[sha]["parent"]
        return out

    def _new_commit(self, files: dict, lfs: set, message: str, parent) -> str:
        sha = hashlib.sha1(json.dumps([sorted(files), message, parent, len(self.commits)]).encode()).hexdigest()
        self.commits[sha] = {"files": files, "lfs": lfs, "message": message, "parent": parent}
        return sha


def _handler_for(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        # plumbing

        def _reply(self, status: int, body=b"", headers=None, head_only=False):
            headers = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            headers.setdefault("Content-Length", str(len(body)))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head_only and self.command != "HEAD":  # a HEAD reply has no body, whatever its status
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str, head_only=False):
            self._reply(status, {} if head_only else {"error": message},
                        {"X-Error-Code": code, "X-Error-Message": message}, head_only=head_only)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _user(self):
            """(user name or None, can write)."""
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            if token in hub.users:
                return hub.users[token], True
            if token in hub.read_tokens:
                return "reader", False
            return None, False

        def _can_write(self, repo_id: str) -> bool:
            user, write = self._user()
            owner = repo_id.split("/")[1 if repo_id.startswith("spaces/") else 0]
            return write and owner == user and repo_id not in hub.deny_writes

        def _can_read(self, repo_id: str) -> bool:
            repo = hub.repos.get(repo_id)
            return repo is not None and (not repo["private"] or self._can_write(repo_id))

        # dispatch

        def do_HEAD(self):
            self._route("HEAD")

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def do_PUT(self):
            self._route("PUT")

        def _route(self, method: str):
            path = urlsplit(self.path).path
            hub.requests.append((method, path))
            parts = [unquote(p) for p in path.strip("/").split("/")]
            with hub.lock:
                if method == "POST" and path == "/api/repos/create":
                    return self.create_repo()
                if method == "POST" and path == "/api/validate-yaml":
                    return self.validate_yaml()
                if method == "GET" and path == "/api/whoami-v2":
                    return self.whoami()
                if parts[:2] in (["api", "models"], ["api", "spaces"]) and len(parts) >= 4:
                    repo_id, action = "/".join(parts[2:4]), parts[4] if len(parts) > 4 else None
                    repo_id = f"spaces/{repo_id}" if parts[1] == "spaces" else repo_id
                    revision = "/".join(parts[5:]) or "main"
                    if method == "POST" and action == "preupload":
                        return self.preupload(repo_id, revision)
                    if method == "POST" and action == "commit":
                        return self.commit(repo_id, revision)
                    if method == "POST" and action == "branch":
                        return self.create_branch(repo_id, revision)
                    if method == "GET" and action in (None, "revision"):
                        return self.repo_info(repo_id, revision)
                    if method == "GET" and action == "tree":  # /tree/<revision>[/<folder>]: one page, all of it
                        return self.tree(repo_id, parts[5] if len(parts) > 5 else "main", "/".join(parts[6:]))
                if len(parts) >= 5 and parts[-5].endswith(".git") and parts[-4:] == ["info", "lfs", "objects", "batch"]:
                    return self.lfs_batch("/".join(parts[:-4])[:-4])  # user/name.git or spaces/user/name.git
                if parts[:1] == ["lfs-upload"] and len(parts) >= 4 and method == "PUT":
                    return self.lfs_put("/".join(parts[2:]), parts[1])
                if parts[:1] == ["lfs-verify"] and len(parts) >= 4 and method == "POST":
                    return self.lfs_verify("/".join(parts[2:]), parts[1])
                space = parts[:1] == ["spaces"]  # /spaces/<user>/<name>/resolve/... as /<user>/<name>/resolve/...
                at = 3 if space else 2
                if len(parts) >= at + 3 and parts[at] == "resolve" and method in ("HEAD", "GET"):
                    repo_id, revision, filename = "/".join(parts[:at]), parts[at + 1], "/".join(parts[at + 2:])
                    return self.resolve(repo_id, revision, filename, head_only=method == "HEAD")
            self._error(404, "NotFound", f"no route for {method} {path}")

        # endpoints

        def whoami(self):
            user, write = self._user()
            if user is None:
                return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            role = "write" if write else "read"
            self._reply(200, {"type": "user", "name": user, "orgs": [],
                              "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}})

        def create_repo(self):
            payload = json.loads(self._body())
            repo_id = f"{payload.get('organization') or self._user()[0]}/{payload['name']}"
            if payload.get("type") == "space":
                if not payload.get("sdk"):
                    return self._error(400, "BadRequest", "a Space needs an sdk (gradio, docker, static)")
                repo_id = f"spaces/{repo_id}"
            if self._user()[0] is None:
                return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            if not self._can_write(repo_id):
                return self._error(403, "Forbidden",
                                   f"You don't have the rights to create a model under the namespace "
                                   f"\"{repo_id.split('/')[0]}\"")
            if repo_id in hub.repos:
                return self._reply(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"})
            hub.create_repo(repo_id, private=payload.get("visibility") == "private")
            self._reply(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})

        def validate_yaml(self):
            content = json.loads(self._body())["content"]
            errors = []
            if content.startswith("---"):
                try:
                    meta = yaml.safe_load(content.split("---")[1])
                    if not isinstance(meta, dict):
                        errors.append({"message": "metadata must be a mapping"})
                except yaml.YAMLError as e:
                    errors.append({"message": f"invalid YAML: {e}"})
            self._reply(400 if errors else 200, {"errors": errors, "warnings": []})

        def preupload(self, repo_id, revision):
            if not self._can_write(repo_id):
                return self._error(403, "Forbidden", f"You don't have write access to {repo_id}")
            head = hub.commits[hub.repos[repo_id]["branches"][revision]]
            answers = []
            files = json.loads(self._body())["files"]
            if repo_id.startswith("spaces/"):  # LFS where .gitattributes says so (see the module docstring)
                attributes = {f["path"]: base64.b64decode(f["sample"]) for f in files}.get(
                    ".gitattributes", head["files"].get(".gitattributes", b"")).decode()
                lfs_patterns = [line.split()[0] for line in attributes.splitlines()
                                if "filter=lfs" in line.split()[1:]]
            for f in files:
                if repo_id.startswith("spaces/"):
                    lfs = any(fnmatch.fnmatch(f["path"].rsplit("/", 1)[-1], p) for p in lfs_patterns)
                else:
                    lfs = f["path"].endswith(hub.lfs_suffixes)
                old = head["files"].get(f["path"])
                oid = None if old is None else (
                    hashlib.sha256(old).hexdigest() if f["path"] in head["lfs"] else git_blob_sha1(old))
                answers.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular",
                                "shouldIgnore": False, "oid": oid})
            self._reply(200, {"files": answers, "commitOid": hub.repos[repo_id]["branches"][revision]})

        def lfs_batch(self, repo_id):
            if not self._can_write(repo_id):
                return self._error(403, "Forbidden", f"You don't have write access to {repo_id}")
            objects = []
            for obj in json.loads(self._body())["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"]}
                if (repo_id, obj["oid"]) not in hub.lfs_objects:
                    entry["actions"] = {"upload": {"href": f"{hub.url}/lfs-upload/{obj['oid']}/{repo_id}"},
                                        "verify": {"href": f"{hub.url}/lfs-verify/{obj['oid']}/{repo_id}"}}
                objects.append(entry)
            self._reply(200, {"transfer": "basic", "objects": objects})

        def lfs_put(self, repo_id, oid):
            data = self._body()
            if hashlib.sha256(data).hexdigest() != oid:
                return self._error(400, "BadRequest", "sha256 does not match the oid")
            hub.lfs_objects[(repo_id, oid)] = data
            self._reply(200)

        def lfs_verify(self, repo_id, oid):
            payload = json.loads(self._body())
            data = hub.lfs_objects.get((repo_id, oid))
            ok = data is not None and len(data) == payload["size"]
            self._reply(200 if ok else 404, {"ok": ok})

        def commit(self, repo_id, revision):
            if repo_id in hub.fail_commits:
                self.close_connection = True  # a network failure: the request gets no answer
                self.connection.close()
                return
            if not self._can_write(repo_id):
                return self._error(403, "Forbidden", f"You don't have write access to {repo_id}")
            branches = hub.repos[repo_id]["branches"]
            parent = hub.commits[branches[revision]]
            files, lfs, message = dict(parent["files"]), set(parent["lfs"]), ""
            for line in self._body().splitlines():
                item = json.loads(line)
                value = item["value"]
                if item["key"] == "header":
                    message = value["summary"]
                elif item["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                    lfs.discard(value["path"])
                    if repo_id.startswith("spaces/") and b"\0" in files[value["path"]]:
                        return self._error(400, "BadRequest", f"Your push was rejected because it contains binary "
                                                              f"files: {value['path']}; use Git LFS or Xet")
                elif item["key"] == "lfsFile":
                    if (repo_id, value["oid"]) not in hub.lfs_objects:
                        return self._error(422, "BadRequest", f"LFS object {value['oid']} was never uploaded")
                    files[value["path"]] = hub.lfs_objects[(repo_id, value["oid"])]
                    lfs.add(value["path"])
                elif item["key"] in ("deletedFile", "deletedFolder"):
                    files = {p: d for p, d in files.items() if p != value["path"]
                             and not p.startswith(value["path"].rstrip("/") + "/")}
            sha = hub._new_commit(files, lfs, message, parent=branches[revision])
            branches[revision] = sha
            self._reply(200, {"success": True, "commitOid": sha, "commitUrl": f"{hub.url}/{repo_id}/commit/{sha}",
                              "pullRequestUrl": None, "hookOutput": ""})

        def create_branch(self, repo_id, branch):
            if not self._can_write(repo_id):
                return self._error(403, "Forbidden", f"You don't have write access to {repo_id}")
            self._body()
            branches = hub.repos[repo_id]["branches"]
            if branch in branches:
                return self._reply(409, {"error": "Reference already exists"})
            branches[branch] = branches["main"]
            self._reply(200, {})

        def repo_info(self, repo_id, revision):
            if not self._can_read(repo_id):
                return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
            sha = hub.repos[repo_id]["branches"].get(revision, revision if revision in hub.commits else None)
            if sha is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            self._reply(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": hub.repos[repo_id]["private"],
                              "siblings": [{"rfilename": p} for p in sorted(hub.commits[sha]["files"])]})

        def tree(self, repo_id, revision, folder):
            """The files (and folders) under `folder` at `revision`, recursively, as list_repo_tree reads them."""
            if not self._can_read(repo_id):
                return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
            sha = hub.repos[repo_id]["branches"].get(revision, revision if revision in hub.commits else None)
            if sha is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            commit, prefix = hub.commits[sha], f"{folder}/" if folder else ""
            entries, folders = [], set()
            for path, data in sorted(commit["files"].items()):
                if not path.startswith(prefix):
                    continue
                folders.update("/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1))
                entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
                if path in commit["lfs"]:
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries.append(entry)
            entries += [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest()}
                        for f in sorted(folders) if f.startswith(prefix)]
            self._reply(200, entries)

        def resolve(self, repo_id, revision, filename, head_only):
            if not self._can_read(repo_id):
                return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}", head_only)
            sha = hub.repos[repo_id]["branches"].get(revision, revision if revision in hub.commits else None)
            if sha is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head_only)
            commit = hub.commits[sha]
            if filename not in commit["files"]:
                return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}", head_only)
            data = commit["files"][filename]
            etag = hashlib.sha256(data).hexdigest() if filename in commit["lfs"] else git_blob_sha1(data)
            headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Content-Length": str(len(data))}
            if filename in commit["lfs"]:
                headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
            self._reply(200, data, headers, head_only=head_only)

    return Handler
