module shipline.local/stack/pause

go 1.26.0
