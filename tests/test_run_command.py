from noether.cli import main


def test_run_command_default_job_passes(capsys):
    assert main(["run"]) == 0
    assert "passed" in capsys.readouterr().out
