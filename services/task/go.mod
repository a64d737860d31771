module github.com/todo-platform/todo/services/task

go 1.26

replace github.com/todo-platform/todo/pkg => ../../pkg
