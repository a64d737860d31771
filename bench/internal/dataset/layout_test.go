package dataset

import "testing"

func TestLayout_HeavyUsersOwnExactlyTheirShare(t *testing.T) {
	for _, tc := range []struct {
		users, tasks int64
		wantHeavy    int64
	}{
		{10_000, 10_000, 1},
		{10_000, 20_000, 2},
		{10_000, 1_000_000, 4},
		{50, 9_001, 1},
	} {
		l, err := NewLayout(tc.users, tc.tasks, 5, 1000)
		if err != nil {
			t.Fatalf("NewLayout(%d, %d): %v", tc.users, tc.tasks, err)
		}
		if l.Heavy != tc.wantHeavy {
			t.Errorf("NewLayout(%d, %d).Heavy = %d, want %d", tc.users, tc.tasks, l.Heavy, tc.wantHeavy)
		}
		if got, want := l.HeavyPerUser, int64(1010*5); got != want {
			t.Errorf("HeavyPerUser = %d, want %d", got, want)
		}
		owned := map[int64]int64{}
		for id := int64(1); id <= l.Tasks; id++ {
			c := l.Creator(id)
			if c < 1 || c > l.Users {
				t.Fatalf("Creator(%d) = %d, outside 1..%d", id, c, l.Users)
			}
			owned[c]++
		}
		for u := l.HeavyFirst(); u <= l.Users; u++ {
			if owned[u] != l.HeavyPerUser {
				t.Errorf("tasks=%d: heavy user %d owns %d tasks, want %d", tc.tasks, u, owned[u], l.HeavyPerUser)
			}
		}
		var regular int64
		for u, n := range owned {
			if !l.IsHeavyUser(u) {
				regular += n
			}
		}
		if got, want := regular, l.Tasks-l.HeavyTasks(); got != want {
			t.Errorf("tasks=%d: regular users own %d tasks, want %d", tc.tasks, got, want)
		}
	}
}

func TestLayout_RegularTasksAreSkewedNotEmpty(t *testing.T) {
	l, err := NewLayout(10_000, 1_000_000, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	owned := make([]int64, l.Users+1)
	for id := int64(1); id <= l.Tasks; id++ {
		owned[l.Creator(id)]++
	}
	// User k's expected share is about sqrt(k/R) - sqrt((k-1)/R).
	if owned[1] < 8_000 || owned[1] > 12_000 {
		t.Errorf("user 1 owns %d tasks, want about 10,000", owned[1])
	}
	if m := owned[l.Regular()/2]; m < 40 || m > 110 {
		t.Errorf("the middle regular user owns %d tasks, want about 70", m)
	}
	if last := owned[l.Regular()]; last < 20 {
		t.Errorf("the last regular user owns %d tasks, want some", last)
	}
}

func TestNewLayout_RefusesTooFewTasks(t *testing.T) {
	if _, err := NewLayout(10_000, 8_000, 5, 1000); err == nil {
		t.Error("NewLayout accepted 8,000 tasks for a heavy user needing 5,050 (over 60%)")
	}
}
