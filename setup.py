"""Project URLs for the package metadata, derived from the repository the
package is built in, so that a fork publishes its own links and no file names
an owner. Everything else is declared in pyproject.toml (``urls`` is listed
there under ``dynamic``).

The repository is ``$GITHUB_REPOSITORY`` (set by GitHub Actions) or the
``origin`` remote of the git clone, if it is on github.com. Elsewhere (an
sdist without git, a clone from another host) the metadata has no URLs.
"""

import os
import re
import subprocess

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


setup(project_urls=project_urls())
