module shipline.local/stack/runc-capfilter

go 1.26.0
