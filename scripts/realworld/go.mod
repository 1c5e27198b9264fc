module github.com/residue-go/residue/scripts/realworld

go 1.26.0
