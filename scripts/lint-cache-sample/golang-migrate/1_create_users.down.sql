DROP TABLE app.sessions;
DROP TABLE app.users;
