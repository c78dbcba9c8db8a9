"""Project URLs and the long description for the package metadata, derived
from the repository the package is built in, so that a fork publishes its own
links and no file names an owner. Everything else is declared in
pyproject.toml (``urls`` and ``readme`` are listed there under ``dynamic``).

The long description is README.md with its relative links (``docs/...``,
``../../deployments``, which GitHub resolves against the repository) made
absolute, so that they also work on a package index.

The repository is ``$GITHUB_REPOSITORY`` (set by GitHub Actions) or the
``origin`` remote of the git clone, if it is on github.com. Elsewhere (an
sdist without git, a clone from another host) the metadata has no URLs.
"""

import os
import re
import subprocess
from pathlib import Path

from setuptools import setup


def github_repository() -> str | None:
    """'owner/name' of the GitHub repository being built, or None."""
    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    try:
        url = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.match(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.-]+/[\w.-]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def project_urls() -> dict[str, str]:
    repo = github_repository()
    if repo is None:
        return {}
    owner, name = repo.split("/")
    source = f"https://github.com/{repo}"
    # GitHub Pages' address for a project site (a user site for owner.github.io)
    pages = f"https://{owner.lower()}.github.io/" + ("" if name.lower() == f"{owner.lower()}.github.io" else f"{name}/")
    return {
        "Documentation": pages,
        "Source": source,
        "Issues": f"{source}/issues",
    }


def long_description() -> str:
    text = (Path(__file__).parent / "README.md").read_text("utf8")
    repo = github_repository()
    if repo is None:
        return text
    base = f"https://github.com/{repo}/blob/HEAD/"

    def absolute(m):
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target, re.I):
            return m.group(0)
        if target.startswith("../../"):  # a page of the repository, e.g. ../../deployments
            return f"{m.group(1)}https://github.com/{repo}/{target[6:]})"
        return f"{m.group(1)}{base}{target})"

    return re.sub(r"(\[[^\]]*\]\()([^)\s]+)\)", absolute, text)


setup(
    project_urls=project_urls(),
    long_description=long_description(),
    long_description_content_type="text/markdown",
)
