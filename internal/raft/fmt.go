package raft

import "fmt"

func sprint(v ...any) string            { return fmt.Sprint(v...) }
func sprintf(f string, v ...any) string { return fmt.Sprintf(f, v...) }
