// Package spec is the declared state: resources and admins from CSV, roles
// from plan files and roles CSV, their scopes and privileges, and the
// generated role names. It decodes and validates (every error is an
// errs.Invalid naming the field) and does no I/O.
package spec
