"""DataError: a ValueError whose one-line message names the file; its parts survive pickling."""

import pickle

from noether.core.errors import DataError


def test_the_message_names_the_file_once_and_the_parts_are_attributes():
    error = DataError("frame 3: positions contain nan", file="md.npz", field="positions", frame=3)
    assert isinstance(error, ValueError)
    assert str(error) == "md.npz: frame 3: positions contain nan"
    assert str(DataError("md.npz: empty", file="md.npz")) == "md.npz: empty"
    assert str(DataError("no file known")) == "no file known"
    back = pickle.loads(pickle.dumps(error))  # a data-loader worker sends it to the main process
    assert type(back) is DataError and str(back) == str(error)
    assert (back.file, back.field, back.frame) == ("md.npz", "positions", 3)
