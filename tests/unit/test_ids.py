from tasky.ids import new_id


def test_ids_are_hex_and_ordered_by_time():
    earlier, later = new_id(1_800_000_000.000), new_id(1_800_000_000.002)
    assert len(earlier) == 32 and int(earlier, 16) >= 0
    assert earlier < later
    assert new_id(1.0) != new_id(1.0)
