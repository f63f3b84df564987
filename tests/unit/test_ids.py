from tasky.ids import new_id, new_ids


def test_ids_are_hex_and_ordered_by_time():
    earlier, later = new_id(1_800_000_000.000), new_id(1_800_000_000.002)
    assert len(earlier) == 32 and int(earlier, 16) >= 0
    assert earlier < later
    assert new_id(1.0) != new_id(1.0)


def test_a_batch_of_ids_shares_its_millisecond_and_nothing_else():
    ids = new_ids(1_800_000_000.000, 1000)
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert {i[:12] for i in ids} == {new_id(1_800_000_000.000)[:12]}
    assert new_ids(1.0, 0) == []


def test_ids_made_in_one_millisecond_sort_in_the_order_they_were_made():
    made = [new_id(1_800_000_000.0005) for _ in range(100)]
    made += [*new_ids(1_800_000_000.0005, 50), new_id(1_800_000_000.0005)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {i[:12] for i in made} == {f"{1_800_000_000_000:012x}"}
