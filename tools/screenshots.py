"""Drive JupyterLab in headless Chromium: open notebooks, run all, check what rendered, take screenshots.

    python tools/screenshots.py                      # every notebooks/*.ipynb -> docs/img/screenshots/
    python tools/screenshots.py notebooks/01-*.ipynb --out /tmp/shots

Named notebooks are run and shot; the lab serves every course notebook all the same, so the file
browser in a shot lists the whole course (and nothing else) whichever notebooks are shot.

The browser check (tests/browser/test_jupyterlab.py) uses the same code. It never downloads a browser:
Playwright drives Debian's /usr/bin/chromium through ``executable_path`` with a fresh profile and the
network features that phone home switched off. JupyterLab serves a temporary COPY of the notebooks, so
running them in the browser (and JupyterLab's autosave) never rewrites the committed notebooks; the
copy is saved after the run and its outputs are read back to look for errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = os.environ.get("BOXKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# JupyterLab settings for a quiet, deterministic page: no news or update checks (no network), every cell
# in the DOM (no windowing, so every output can be counted), no autosave racing our explicit save
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings":
        {"autosave": False},
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings":
        {"theme": "JupyterLab Light"},
    # the menus this harness clicks are found by their English names: never the machine locale's UI
    # (the course extra installs the pt-BR language pack, which a pt_BR locale would otherwise pick)
    "@jupyterlab/translation-extension/plugin.jupyterlab-settings":
        {"locale": "en"},
}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# notebooks that are not the course's (the browser test's zz-tiny/zz-broken checks of the harness) are
# served from this folder, beside notebooks/ and not in it: the file browser a screenshot shows lists
# the course only
HARNESS_DIR = "harness"


@dataclass
class Lab:
    url: str
    token: str
    root: str
    proc: subprocess.Popen
    log: str
    folders: dict[str, str] = field(default_factory=dict)   # notebook name -> its folder under root

    def path(self, name: str) -> str:
        """The notebook's path relative to the server's root (notebooks/NAME or harness/NAME)."""
        return f"{self.folders.get(name, 'notebooks')}/{name}"

    def tree_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{self.path(name)}?token={self.token}&reset"


@contextlib.contextmanager
def jupyter_lab(notebooks: list[str], kernel: str = "python3", timeout: float = 90):
    """JupyterLab on 127.0.0.1 (a free port, a random token) serving copies of ``notebooks``; the
    kernel of each copy is set to ``kernel`` so no kernel-choice dialog can block the page. The
    course's notebooks (those in the repository's notebooks/) go to notebooks/, any other to
    harness/, so that no screenshot of the course shows a test notebook in the file browser."""
    work = tempfile.mkdtemp(prefix="boxkit-lab-")
    # a copy of the repository's layout: notebooks/ with fresh copies, docs/ linked so that markdown
    # images (../docs/img/...) still resolve
    root = os.path.join(work, "course")
    nbdir = os.path.join(root, "notebooks")
    settings = os.path.join(work, "settings")
    os.makedirs(nbdir)
    if os.path.isdir(os.path.join(REPO, "docs")):
        os.symlink(os.path.join(REPO, "docs"), os.path.join(root, "docs"))
    for rel, content in LAB_SETTINGS.items():
        path = os.path.join(settings, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(content, f)
    src_dir = os.path.join(REPO, "notebooks")
    for extra in os.listdir(src_dir) if os.path.isdir(src_dir) else ():  # data next to the notebooks
        src = os.path.join(src_dir, extra)
        if extra.endswith(".ipynb") or extra.startswith("."):
            continue
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(nbdir, extra), symlinks=True)
        else:
            shutil.copy(src, nbdir)
    course_dir = os.path.realpath(src_dir)
    folders = {}
    for nb in notebooks:
        name = os.path.basename(nb)
        folders[name] = "notebooks" if os.path.dirname(os.path.realpath(nb)) == course_dir else HARNESS_DIR
        os.makedirs(os.path.join(root, folders[name]), exist_ok=True)
        with open(nb) as f:
            data = json.load(f)
        data.setdefault("metadata", {})["kernelspec"] = {"name": kernel, "display_name": "Python 3",
                                                         "language": "python"}
        # start blank: a stale [3] or output must not pass for a finished run
        for cell in data.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        data["metadata"].pop("widgets", None)
        with open(os.path.join(root, folders[name], name), "w") as f:
            json.dump(data, f)
    port, token = free_port(), secrets.token_hex(16)
    log = os.path.join(work, "lab.log")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=os.path.join(work, "config"),
               JUPYTER_RUNTIME_DIR=os.path.join(work, "runtime"), BOXKIT_NO_BROWSER_HINTS="1")
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    with open(log, "w") as logf:
        proc = subprocess.Popen(
            [jupyter, "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={work}/workspaces",
             "--ServerApp.port_retries=0"],
            stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, proc, log, folders)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}: {_tail(log)}")
            try:
                with urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer on {lab.url} within {timeout}s: {_tail(log)}")
            time.sleep(0.3)
        yield lab
    finally:
        _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (kernels run in sessions of their own, outside its process group)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _starttime(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server, then anything it started that outlived it (its kernels)."""
    below = [(p, _starttime(p)) for p in _descendants(proc.pid)]
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
    for pid, started in below:
        if _starttime(pid) == started:  # the same process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _tail(path: str, n: int = 1500) -> str:
    try:
        with open(path) as f:
            return f.read()[-n:]
    except OSError:
        return ""


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 860):
    """A Playwright page in Debian's Chromium with a fresh profile, removed afterwards."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="boxkit-chromium-")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height}, device_scale_factor=1)
            try:
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                yield page
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class RunResult:
    name: str
    seconds: float
    errors: list[str] = field(default_factory=list)     # error outputs of the saved notebook
    images_expected: int = 0                             # image/png outputs in the saved notebook
    images_rendered: int = 0                             # <img> elements in output areas
    widgets_expected: int = 0                            # widget-view outputs in the saved notebook
    widgets_rendered: int = 0                            # widget views in output areas
    widget_failures: list[str] = field(default_factory=list)
    code_cells: int = 0
    screenshot: str | None = None


def _menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


def _wait(page, name: str, what: str, js: str, timeout: float) -> None:
    """Wait for a condition in the page; on time-out say what the page showed (and keep a picture)."""
    from playwright.sync_api import TimeoutError as PwTimeout

    try:
        page.wait_for_function(js, timeout=timeout * 1000, polling=250)
    except PwTimeout:
        shot = os.path.join(tempfile.gettempdir(), f"boxkit-browser-{name}.png")
        page.screenshot(path=shot)
        status = page.evaluate("() => [...document.querySelectorAll('.jp-StatusBar-Item')]"
                               ".map(w => w.textContent.trim()).filter(Boolean).join(' / ')")
        dialogs = [d.inner_text()[:200] for d in page.locator(".jp-Dialog").all()]
        raise AssertionError(f"{name}: no {what} after {timeout:.0f}s; status bar: {status!r}; "
                             f"dialogs: {dialogs}; screenshot {shot}") from None


def _no_dialog(page, name: str) -> None:
    """A modal dialog (kernel died, file changed on disk, ...) means the run went wrong: say which."""
    dialogs = page.locator(".jp-Dialog")
    if dialogs.count():
        raise AssertionError(f"{name}: JupyterLab shows a dialog: {dialogs.first.inner_text()[:400]!r}")


def run_notebook(page, lab: Lab, name: str, timeout: float = 300, screenshot: str | None = None) -> RunResult:
    """Open ``name``, wait for an idle kernel, Run All, wait until every cell ran, save, and check."""
    t0 = time.monotonic()
    page.goto(lab.tree_url(name))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook").first.wait_for(state="visible", timeout=60_000)
    # the kernel must be connected and idle before Run All; the status bar reads "Python 3 (...) | Idle"
    _wait(page, name, "an idle kernel",
          """() => [...document.querySelectorAll('.jp-StatusBar-Item')]
                     .some(w => /\\|\\s*Idle\\s*$/.test(w.textContent.trim()))""", 180)
    _no_dialog(page, name)
    _menu(page, "Run", "Run All Cells")
    # finished when no prompt shows [*] and every code cell has a number, and the kernel is idle again
    _wait(page, name, "every cell to run",
          """() => {
               const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
               if (!nb) return false;
               const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                                 .map(p => p.textContent);
               const ind = nb.querySelector('.jp-Notebook-ExecutionIndicator');
               const idle = ind && /Kernel status: Idle/.test(ind.textContent);
               return prompts.length > 0 && idle && prompts.every(t => /\\[\\d+\\]/.test(t));
             }""", timeout)
    page.wait_for_timeout(500)  # let late display updates (widgets, images) land
    res = RunResult(name=name, seconds=0.0)
    saved = os.path.join(lab.root, lab.path(name))
    before = os.stat(saved).st_mtime_ns
    _no_dialog(page, name)
    _menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + 20
    while os.stat(saved).st_mtime_ns == before:  # the save is asynchronous
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: the notebook was not saved after Run All")
        time.sleep(0.2)
    time.sleep(0.3)
    with open(saved) as f:
        data = json.load(f)
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    res.code_cells = len(code)
    for c in code:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                res.errors.append(f"{o.get('ename')}: {o.get('evalue')}")
            d = o.get("data", {})
            res.images_expected += "image/png" in d or "image/svg+xml" in d
            res.widgets_expected += WIDGET_MIME in d
    res.images_rendered = panel.locator(".jp-OutputArea-output img, .jp-OutputArea-output svg.jp-RenderedSVG, "
                                        ".jp-RenderedSVG svg").count()
    res.widgets_rendered = panel.locator(".jp-OutputArea-output .jupyter-widgets").count()
    for bad in panel.locator(".jp-OutputArea-output", has_text=re.compile(
            "Error displaying widget|Loading widget\\.\\.\\.|model not found")).all():
        res.widget_failures.append(bad.inner_text()[:200])
    if screenshot:
        os.makedirs(os.path.dirname(screenshot), exist_ok=True)
        # show the first plot with the code that drew it above; a notebook without plots from its top
        page.evaluate("""() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const scroller = nb.querySelector('.jp-WindowedPanel-outer') || nb.querySelector('.jp-Notebook');
            const img = nb.querySelector('.jp-OutputArea-output img');
            if (!img) { scroller.scrollTop = 0; return; }
            const cell = img.closest('.jp-Cell');
            scroller.scrollTop += cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
        }""")
        page.wait_for_timeout(300)
        page.screenshot(path=screenshot)
        res.screenshot = screenshot
    res.seconds = time.monotonic() - t0
    close_notebook(page, lab, name)
    return res


def close_notebook(page, lab: Lab, name: str) -> None:
    """Shut the notebook's kernel down (its containers end with it) and close its tab, so the next
    notebook runs alone on the machine."""
    req = urllib.request.Request(f"{lab.url}/api/sessions?token={lab.token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        sessions = json.load(r)
    for sess in sessions:
        if sess.get("path") == lab.path(name):
            urllib.request.urlopen(urllib.request.Request(
                f"{lab.url}/api/sessions/{sess['id']}?token={lab.token}", method="DELETE"), timeout=30).close()
    with contextlib.suppress(Exception):
        _menu(page, "File", "Close Tab")
        page.wait_for_timeout(300)
        _no_dialog(page, name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "img", "screenshots"))
    a = ap.parse_args(argv)
    course = sorted(os.path.join(REPO, "notebooks", f) for f in os.listdir(os.path.join(REPO, "notebooks"))
                    if f.endswith(".ipynb"))
    nbs = a.notebooks or course
    if not nbs:
        print("no notebooks to screenshot", file=sys.stderr)
        return 1
    named = {os.path.basename(nb) for nb in nbs}
    served = list(nbs) + [c for c in course if os.path.basename(c) not in named]
    status = 0
    with jupyter_lab(served) as lab, chromium() as page:
        for nb in nbs:
            name = os.path.basename(nb)
            shot = os.path.join(a.out, name.replace(".ipynb", ".png"))
            r = run_notebook(page, lab, name, screenshot=shot)
            ok = not r.errors and not r.widget_failures
            status |= 0 if ok else 1
            print(f"{'ok ' if ok else 'ERR'} {name}: {r.seconds:.1f}s, {r.images_rendered} images, "
                  f"{r.widgets_rendered} widgets -> {shot}" + (f" errors: {r.errors}" if r.errors else ""))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
