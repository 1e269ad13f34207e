"""Make ``--teacher /abs/path`` read the same ini file as ``--teacher=/abs/path``.

pytest picks its rootdir and ini file from the command line's free arguments *before* it loads
plugins, so before it knows that ``--teacher`` takes a value. In ``pytest --teacher /m/t
--student /m/s``, ``/m/t`` and ``/m/s`` look like test paths to it: it searches for an ini file
upward from ``/m`` instead of from the working directory, misses the project's
``pyproject.toml``, and every ``loyalty_*`` threshold silently falls back to its default. The
``=`` form is one unknown option to that first parse and does not have the problem.

Once plugins are loaded the parser knows our options; ``realign`` asks pytest's own
``determine_setup`` again with the free arguments that remain, and when the answer differs,
puts it in place before any conftest or ini value is read. An explicit ``-c`` or ``--rootdir``
is the user's choice and is left alone.
"""

from __future__ import annotations

import copy
import inspect

import pytest


def realign(early_config, args: list[str]) -> None:
    from _pytest.config.findpaths import determine_setup  # pytest's own rules, not a copy of them

    namespace = early_config.known_args_namespace
    if getattr(namespace, "inifilename", None) or getattr(namespace, "rootdir", None):
        return
    accepted = inspect.signature(determine_setup).parameters
    wanted = dict(
        inifile=None,
        override_ini=getattr(namespace, "override_ini", None),
        args=list(getattr(namespace, "file_or_dir", []) or []),
        rootdir_cmd_arg=None,
        invocation_dir=early_config.invocation_params.dir,
    )
    rootpath, inipath, inicfg = determine_setup(**{k: v for k, v in wanted.items() if k in accepted})[:3]
    if (rootpath, inipath) == (early_config.rootpath, early_config.inipath):
        return
    old_confcutdir = str(early_config.inipath.parent if early_config.inipath else early_config.rootpath)
    try:
        early_config._rootpath, early_config._inipath = rootpath, inipath
        if hasattr(early_config, "_inicfg"):
            early_config._inicfg = inicfg  # pytest 9
        else:
            early_config.inicfg = inicfg  # pytest 8
        early_config._inicache.clear()
        early_config._parser.extra_info.update(rootdir=str(rootpath), inifile=str(inipath))
    except AttributeError as error:  # a pytest whose internals moved: say so rather than run with the wrong ini
        raise pytest.UsageError(
            "loyalty: pytest took the model paths after --teacher/--student for test paths and found its ini "
            f"file from them ({early_config.inipath}) instead of {inipath}; write --teacher=PATH and "
            "--student=PATH (with '='), or pass -c with your ini file"
        ) from error
    addopts = early_config.getini("addopts")
    if addopts:  # the right ini's addopts were never applied
        args[:] = list(addopts) + args
        early_config.known_args_namespace = early_config._parser.parse_known_args(
            args, namespace=copy.copy(early_config.option)
        )
    if early_config.known_args_namespace.confcutdir in (None, old_confcutdir):
        early_config.known_args_namespace.confcutdir = str(inipath.parent if inipath else rootpath)
