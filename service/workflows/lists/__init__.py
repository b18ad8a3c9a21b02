"""Lists a working day needs: the filtered 文书 list, the registers (发文登记簿, 案件登记簿)
and their spreadsheets (``.xlsx`` and CSV), each read an audit event."""
