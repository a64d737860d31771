package taskstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// A List query is assembled from the fixed fragments below, chosen by the
// filter fields that are set, the order and the cursor; every value is a
// named argument. Each combination is one prepared statement whose plan
// does not depend on argument values, so generic plans stay index plans.
//
// For a user who is not an admin the query is the union of two branches,
// the tasks the user created and the tasks the user is assigned (and did not
// create), each ordered and limited on its own: with the default order both
// branches are index scans in created_at order (idx_tasks_created_by_created_at
// and idx_tasks_assigned_to_created_at), so a page reads about a page of
// rows however many tasks the user has. Row-level security would hide other
// users' rows anyway; the explicit condition is what lets the planner use
// the indexes.
const (
	listAdminSQL = `SELECT ` + columns + `%[3]s FROM task WHERE %[1]s ORDER BY %[2]s LIMIT @limit::bigint`

	listUserSQL = `
SELECT ` + columns + `%[3]s FROM (
    (SELECT * FROM task WHERE created_by = @uid::bigint AND %[1]s ORDER BY %[2]s LIMIT @limit::bigint)
    UNION ALL
    (SELECT * FROM task WHERE assigned_to = @uid::bigint AND created_by <> @uid::bigint AND %[1]s ORDER BY %[2]s LIMIT @limit::bigint)
) AS task
ORDER BY %[2]s LIMIT @limit::bigint`

	condTrue          = `TRUE`
	condStatuses      = `status = ANY(@statuses::text[])`
	condPriorities    = `priority = ANY(@priorities::text[])`
	condAssignedTo    = `assigned_to = @assigned_to::bigint`
	condUnassigned    = `assigned_to IS NULL`
	condCreatedBy     = `created_by = @created_by::bigint`
	condDueBefore     = `due_date < @due_before::timestamptz`
	condDueAfter      = `due_date >= @due_after::timestamptz`
	condUpdatedAfter  = `updated_at > @updated_after::timestamptz`
	rankExpr          = `CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'urgent' THEN 4 END`
	orderCreatedAsc   = `created_at, id`
	orderCreatedDesc  = `created_at DESC, id DESC`
	orderUpdatedAsc   = `updated_at, id`
	orderUpdatedDesc  = `updated_at DESC, id DESC`
	orderDueAsc       = `due_date ASC NULLS LAST, id`
	orderDueDesc      = `due_date DESC NULLS LAST, id DESC`
	orderPriorityAsc  = rankExpr + `, id`
	orderPriorityDesc = rankExpr + ` DESC, id DESC`
	afterCreatedAsc   = `(created_at, id) > (@after_time::timestamptz, @after_id::bigint)`
	afterCreatedDesc  = `(created_at, id) < (@after_time::timestamptz, @after_id::bigint)`
	afterUpdatedAsc   = `(updated_at, id) > (@after_time::timestamptz, @after_id::bigint)`
	afterUpdatedDesc  = `(updated_at, id) < (@after_time::timestamptz, @after_id::bigint)`
	afterDueAsc       = `((due_date, id) > (@after_time::timestamptz, @after_id::bigint) OR due_date IS NULL)`
	afterDueDesc      = `((due_date, id) < (@after_time::timestamptz, @after_id::bigint) OR due_date IS NULL)`
	afterNoDueAsc     = `(due_date IS NULL AND id > @after_id::bigint)`
	afterNoDueDesc    = `(due_date IS NULL AND id < @after_id::bigint)`
	afterPriorityAsc  = `(` + rankExpr + `, id) > (@after_rank::integer, @after_id::bigint)`
	afterPriorityDesc = `(` + rankExpr + `, id) < (@after_rank::integer, @after_id::bigint)`
	// With a search (search.go), in place of the search fragments' %[2]s
	// and %[3]s; relevance is best first only.
	orderRelevance = searchRank + ` DESC, id DESC`
	afterRelevance = `(` + searchRank + `, id) < (@after_score::real, @after_id::bigint)`
)

// orderFragments returns the ORDER BY list of o.
func orderFragments(o task.Order) string {
	switch o.Key {
	case task.SortUpdatedAt:
		return pick(o.Desc, orderUpdatedDesc, orderUpdatedAsc)
	case task.SortDueDate:
		return pick(o.Desc, orderDueDesc, orderDueAsc)
	case task.SortPriority:
		return pick(o.Desc, orderPriorityDesc, orderPriorityAsc)
	case task.SortRelevance:
		return orderRelevance
	default:
		return pick(o.Desc, orderCreatedDesc, orderCreatedAsc)
	}
}

// afterFragment returns the condition "after cursor c in order o".
func afterFragment(o task.Order, c task.Cursor) string {
	switch o.Key {
	case task.SortUpdatedAt:
		return pick(o.Desc, afterUpdatedDesc, afterUpdatedAsc)
	case task.SortDueDate:
		if c.NoDue {
			return pick(o.Desc, afterNoDueDesc, afterNoDueAsc)
		}
		return pick(o.Desc, afterDueDesc, afterDueAsc)
	case task.SortPriority:
		return pick(o.Desc, afterPriorityDesc, afterPriorityAsc)
	case task.SortRelevance:
		return afterRelevance
	default:
		return pick(o.Desc, afterCreatedDesc, afterCreatedAsc)
	}
}

func pick(desc bool, ifDesc, ifAsc string) string {
	if desc {
		return ifDesc
	}
	return ifAsc
}

// listQuery returns the SQL and arguments of q for c, searching in the
// text search configuration searchConfig.
func listQuery(searchConfig string, c task.Caller, q task.Query) (string, pgx.NamedArgs) {
	args := callerArgs(c)
	args["limit"] = int64(q.Limit)
	var conds []string
	f := q.Filter
	if len(f.Statuses) > 0 {
		conds = append(conds, condStatuses)
		s := make([]string, len(f.Statuses))
		for i, v := range f.Statuses {
			s[i] = string(v)
		}
		args["statuses"] = s
	}
	if len(f.Priorities) > 0 {
		conds = append(conds, condPriorities)
		p := make([]string, len(f.Priorities))
		for i, v := range f.Priorities {
			p[i] = string(v)
		}
		args["priorities"] = p
	}
	if f.AssignedTo != nil {
		if *f.AssignedTo == 0 {
			conds = append(conds, condUnassigned)
		} else {
			conds = append(conds, condAssignedTo)
			args["assigned_to"] = *f.AssignedTo
		}
	}
	if f.CreatedBy != nil {
		conds = append(conds, condCreatedBy)
		args["created_by"] = *f.CreatedBy
	}
	if f.DueBefore != nil {
		conds = append(conds, condDueBefore)
		args["due_before"] = *f.DueBefore
	}
	if f.DueAfter != nil {
		conds = append(conds, condDueAfter)
		args["due_after"] = *f.DueAfter
	}
	if f.UpdatedAfter != nil {
		conds = append(conds, condUpdatedAfter)
		args["updated_after"] = *f.UpdatedAfter
	}
	if f.Search != nil {
		conds = append(conds, searchSQL(searchMatch, searchConfig, f.Search))
		searchArgs(args, f.Search)
	}
	if a := q.After; a != nil {
		after := afterFragment(q.Order, *a)
		if q.Order.Key == task.SortRelevance {
			// ParseOrder and Service.List allow relevance with a search only.
			after = searchSQL(after, searchConfig, f.Search)
		}
		conds = append(conds, after)
		args["after_id"] = a.ID
		args["after_time"] = a.Time
		args["after_rank"] = int32(a.Rank)
		args["after_score"] = a.Score
	}
	if len(conds) == 0 {
		conds = append(conds, condTrue)
	}
	where := strings.Join(conds, " AND ")
	order := orderFragments(q.Order)
	var relevance string
	if q.Order.Key == task.SortRelevance {
		order = searchSQL(order, searchConfig, f.Search)
		relevance = searchSQL(", "+searchRank, searchConfig, f.Search)
	}
	if c.Admin {
		return fmt.Sprintf(listAdminSQL, where, order, relevance), args
	}
	return fmt.Sprintf(listUserSQL, where, order, relevance), args
}

// List returns the page q describes within the tasks c can see.
func (s *Store) List(ctx context.Context, c task.Caller, q task.Query) ([]task.Task, error) {
	sql, args := listQuery(s.searchConfig, c, q)
	search := q.Filter.Search
	scan := scanTasks
	if q.Order.Key == task.SortRelevance {
		scan = scanRankedTasks
	}
	var tasks []task.Task
	searchable := true
	set := settings(ctx, c)
	if q.Filter.ShowDeleted {
		set = showDeleted(set)
	}
	err := s.db.Send(ctx, pgdb.RetrySafe, set, func(b *pgx.Batch) {
		if search != nil {
			b.Queue(searchSQL(searchCheckSQL, s.searchConfig, search), args)
		}
		b.Queue(sql, args)
	}, func(br pgx.BatchResults) error {
		if search != nil {
			if err := br.QueryRow().Scan(&searchable); err != nil {
				return fmt.Errorf("check search query: %w", err)
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		tasks, err = pgx.CollectRows(rows, scan)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore list: %w", err)
	}
	if !searchable {
		return nil, fmt.Errorf("taskstore list: %w", task.ErrEmptySearch)
	}
	return tasks, nil
}

// sortCounts orders counts by status, then priority rank.
func sortCounts(counts []task.Count) {
	statuses := task.Statuses()
	slices.SortFunc(counts, func(a, b task.Count) int {
		if d := slices.Index(statuses, a.Status) - slices.Index(statuses, b.Status); d != 0 {
			return d
		}
		return a.Priority.Rank() - b.Priority.Rank()
	})
}
